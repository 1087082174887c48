"""Streamlit dashboard (port 8501): real-time fraud analysis for an analyst."""
