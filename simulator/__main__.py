"""`python -m simulator`."""

from fraudcore.service import not_built_yet

not_built_yet("simulator", issue=3)
