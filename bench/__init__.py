"""The forward-auth load benchmark; ``bench/forward_auth.py`` runs it (``make bench``).

One module per part of a run: ``scenarios`` (what is measured and under which load), ``wrk``
(the load generator and its numbers), ``servers`` (CPU and logs of the running servers),
``login`` (a session per app through the real flow), ``probe`` (the one request checked before
measuring), ``profiling`` (py-spy), ``measure`` (one scenario), ``run`` (set-up and the whole
run), ``report`` (summary, ratios, noise), ``machine`` (hardware and versions), ``cli``
(options, the JSON on stdout and in ``bench/results/``), ``progress`` (lines on stderr),
``floor`` and ``floor_app`` (what authgate is compared against), ``login_loop`` ((f)'s
background logins).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
