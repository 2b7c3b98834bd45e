"""llmcourse: the shared code of the course, one module per concept.

Each module's docstring names the chapter that explains it. Chapters build an idea step by
step, check it equals the version here, and use the package from then on.
"""

__version__ = "0.1.0"
