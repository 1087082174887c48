"""`python -m retrainer`."""

from fraudcore.service import not_built_yet

not_built_yet("retrainer", issue=9)
