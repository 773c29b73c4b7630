"""Build kiln: the pure-Python package plus its Cython runtime extension."""
from setuptools import find_packages, setup


def _ext_modules():
    """The C linker's Cython runtime (kiln/linkers/c/_runtime.pyx).

    Optional: without Cython or a compiler at build time kiln still installs, and the
    runtime falls back to ctypes (slower calls, same results).
    """
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        return []
    ext = Extension("kiln.linkers.c._runtime", ["kiln/linkers/c/_runtime.pyx"],
                    include_dirs=[numpy.get_include()], extra_compile_args=["-O2"],
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                    optional=True)   # a failed build leaves kiln on the ctypes runtime
    # generated C goes to build/ (ignored), not next to the .pyx
    return cythonize([ext], compiler_directives={"language_level": 3}, build_dir="build", quiet=True)


setup(
    name="kiln",
    version="0.1.0",
    description="A symbolic computation-graph compiler for Python (PyTensor-compatible API)",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["kiln", "kiln.*"]),
    package_data={"kiln": ["c_templates/*"]},
    ext_modules=_ext_modules(),
    python_requires=">=3.11",  # the code uses Exception.add_note (3.11)
    # scipy: special functions (erf, gamma, psi, ...) for the reference perform, and
    # cython_blas for the C linker; sympy: the derivative oracle of the gradient tests.
    # filelock: the module cache's per-key OS locks (released when a holder dies);
    # platformdirs: the platform's user cache directory.
    install_requires=["numpy>=2.0", "scipy>=1.10", "sympy>=1.12", "cython>=3.0", "filelock>=3.12",
                      "platformdirs>=3.0"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        "cuda": ["pycuda"],
        "bench": ["pytensor", "jax", "jaxlib"],
    },
)
