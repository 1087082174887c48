"""Dash live operations monitor (port 8050): throughput, alert rate, scores, alerts, pipeline health."""
