"""`python -m storage_consumer`."""

from fraudcore.service import not_built_yet

not_built_yet("storage_consumer", issue=6)
