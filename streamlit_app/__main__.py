"""`python -m streamlit_app`."""

from fraudcore.service import not_built_yet

not_built_yet("streamlit_app", issue=8)
