"""Guidelines as code: test cases, static analysis, diffs and the signed text of a set.

This package sits above the engine and the audit log: test cases run through the real
Evaluator, while lint reasons over the condition language with the Kleene evaluator.
"""
