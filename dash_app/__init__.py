"""Dash dashboard (port 8050): live operations monitor reading Redis."""
