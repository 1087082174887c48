"""`python -m ml_consumer`."""

from fraudcore.service import not_built_yet

not_built_yet("ml_consumer", issue=5)
