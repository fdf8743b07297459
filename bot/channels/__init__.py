"""The channels room: each channel wired from its adapter and settings, and `serve`, which runs them."""
