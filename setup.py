"""Build the optional native tokenizer; everything else is in pyproject.toml.

The extension is optional: where it cannot be compiled, vpcflow parses with Arrow alone.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vpcflow.parse._tokenize",
            ["src/vpcflow/parse/_tokenize.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
