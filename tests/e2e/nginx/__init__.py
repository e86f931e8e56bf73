"""Test support for the NGINX end-to-end test: Debian's nginx behind a small ingress controller.

- :mod:`.config` renders main and canary Ingresses into an nginx configuration (pure);
- :mod:`.backends` runs aiohttp servers playing the primary and canary pods;
- :mod:`.controller` runs nginx (private prefix, 127.0.0.1, pid file in a temp dir), watches the
  Ingresses on the local control plane and reloads nginx on change, and exports ingress-nginx's
  request metrics from nginx's JSON access log;
- :mod:`.harness` puts them together on a background event loop for synchronous tests.
"""
