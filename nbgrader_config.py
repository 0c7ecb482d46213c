"""nbgrader configuration for instructors working in this repository.

Sources (with solutions and hidden tests) live in solutions/<id>/<id>.ipynb; the
student releases go to notebooks/<id>/<id>.ipynb. `make release` runs
nbgrader generate_assignment with exactly these settings.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
