"""Retrainer: scheduled and on-demand retraining from MongoDB labels, with champion/challenger promotion."""
