"""The response: plan actions, their executors, logistics and chain of custody."""
