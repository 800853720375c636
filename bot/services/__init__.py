"""Use cases. They take the Services container, return results and enqueue notifications.

Services never import `telegram`: another channel could drive them unchanged.
"""
