"""agnhost, Kubernetes' own e2e test server, deployed as another team's application (see app.py)."""
