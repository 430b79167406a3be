"""`python -m course_lib.grade PATH...`: the exercise grader (it lives in course_lib.tools.grade)."""
import sys

from .tools.grade import main

if __name__ == "__main__":
    sys.exit(main())
