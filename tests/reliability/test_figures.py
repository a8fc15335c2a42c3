"""The figures a reliability test reports are printed at the end of the run."""

def test_figures_are_printed_at_the_end(pytester):
    pytester.makeconftest("pytest_plugins = ['tests.conftest']")
    pytester.makepyfile(
        """
        def test_load(figures):
            figures.add("requests sent", 1234)
            figures.add("p99 seconds", 0.5)
        """
    )
    result = pytester.runpytest("-p", "no:xdist", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= figures =*", "*test_load*", "*requests sent*1,234*"])
