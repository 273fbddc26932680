"""Every ``git`` process keyguard starts, and the parsing of what git prints.

Nothing outside this package spawns git (``tests/test_architecture.py`` checks
it). Plain functions over ``git -z`` output, in the manner of pre-commit's
``pre_commit/git.py``:

* ``run``      - the hardened command line and the scrubbed environment of every git child.
* ``repo``     - repository facts: roots, git dir, bare or not, object format, revisions.
* ``objects``  - ``cat-file`` readers (one object at a time, whole streams) and object listing
                 (all objects, reflog and stash commits, unreachable objects).
* ``diff``     - the staged entries and patch ``scan --staged`` reads (``diff-index --cached``).
* ``commits``  - commit and tag header parsing, and the ``git log --raw`` walk.
* ``refs``     - refs, their names as keyguard prints them, and "which refs contain these commits"
                 (batched: one walk for any number of commits).

Only the standard library is imported (``run``, ``objects``, ``repo`` and
``diff`` are on the pre-commit path). Both object formats (SHA-1 and SHA-256)
work: ids are never assumed to be 40 characters long.
"""
