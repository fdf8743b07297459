"""Scheduled work: plain async functions of the `Core` and `now`, and the scheduler that runs them.

Each job writes its run row before it sends, so a restart, a catch-up or a second worker
never sends twice. Jobs take the `Core` from `bot.core`, never from `bot.app`, which builds it.
"""
