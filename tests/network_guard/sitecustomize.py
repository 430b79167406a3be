"""Loaded by every Python process the tests start (this folder is on PYTHONPATH): loopback only."""
import network_guard

network_guard.install()
