"""`python -m dash_app`."""

from fraudcore.service import not_built_yet

not_built_yet("dash_app", issue=8)
