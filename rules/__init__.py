"""The domain core: rulebooks, conditions, templates and the engine.

Pure by design: no HTTP, no database, no clock. Time is always an argument, so every decision
can be replayed and tested with plain values.
"""
