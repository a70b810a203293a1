"""``authgate doctor`` and ``authgate import``: read the proxy setup people already run.

The pipeline, one module per step:

    paths ──> sources.py   files, directories, stdin -> Kubernetes objects, Traefik file
                           provider documents, nginx and Caddy configs (+ findings on bad input)
          ──> ingress.py, traefik.py, nginx.py, caddy.py
                           each proxy's own routing rules -> one HostSetup per host: its routes,
                           which of them carries forward auth, which one serves the outpost path
          ──> survey.py    the inputs, the apps authgate knows and every HostSetup, in one place
          ──> checks_*.py  static checks: small functions, each naming what goes wrong for the
                           user and the fix (lint checks of the proxy setup, not access rules)
          ──> registry.py  the list of checks; run() -> sorted findings

``probe.py`` checks a live setup from outside, step by step like a browser; ``imports.py``
turns the same HostSetups into the apps authgate must know. Nothing here touches the hot path.
"""
