"""Transaction simulator.

A synthetic crypto economy with fraud typologies and delayed labels, or a replay of a
user's file, produced to Kafka.
"""
