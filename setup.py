"""The compiled reader-decoder (ingest/_resp.c), built at `pip install -e .`; everything else is
declared in pyproject.toml. Without a compiler the build is skipped with a warning, and the
worker reads through redis-py and decodes in numpy (ingest/wire.py, ingest/decode.py)."""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # noqa: BLE001 - any compiler failure: the pure path serves
            print(f"warning: ingest._resp not built ({err}); the numpy fallback serves")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            print(f"warning: {ext.name} not built ({err}); the numpy fallback serves")


setup(
    ext_modules=[Extension("ingest._resp", ["ingest/_resp.c"],
                           extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                               "-Wno-missing-field-initializers"])],
    cmdclass={"build_ext": OptionalBuildExt},
)
