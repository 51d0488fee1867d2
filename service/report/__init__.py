"""``talentmatch report``: one self-contained HTML file for the data team — feature drift of recent rankings against
the champion's training rows (PSI per feature), feedback rates by post kind and stage, the exposure table, and one
line saying whether to retrain and why.

``gather`` reads the database (decision receipts, feedback, needs, talents) and the registry (the champion's run:
its age, its training data window, the reference profile it logged); the numbers come from ``matcher.drift``,
``matcher.exposure`` and ``matcher.monitor``; ``render`` draws the plots and fills the template. What is missing
(no receipts yet, no champion, a champion trained before profiles were logged) is said in the report, not raised.
"""

from service.report.gather import Report, gather, gather_world
from service.report.render import render

__all__ = ["Report", "gather", "gather_world", "render"]
