"""Generators of proxy configuration for one app: typed objects first, then serialised.

``spec.py`` holds what every generator needs (the app, its backend, the auth service);
each target module builds its objects from a ``Spec``; ``serialize.py`` turns dataclasses
into comment-annotated YAML and ``conf.py`` renders nginx and Caddy blocks; ``targets.py``
maps a target name to its generator. Nothing here touches the store or the network.
"""
