"""Storage consumer.

Writes the fraud and legit topics to PostgreSQL and keeps Redis up to date for the dashboards.
"""
