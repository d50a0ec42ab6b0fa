"""Shared foundations: image I/O, the pretrained-asset resolver, small utilities.

Imports nothing else of the project, so every other package may depend on it.
"""
