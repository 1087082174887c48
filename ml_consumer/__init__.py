"""Scoring consumer.

Reads transactions, computes wallet features, scores them with XGBoost and the LSTM,
writes MongoDB and routes each to the fraud or legit topic.
"""
