"""Screens pushed over the main screen: help and prompts."""
