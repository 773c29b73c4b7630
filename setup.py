"""Build kiln: the pure-Python package (plus, later, its Cython runtime extension)."""
from setuptools import find_packages, setup

setup(
    name="kiln",
    version="0.1.0",
    description="A symbolic computation-graph compiler for Python (PyTensor-compatible API)",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["kiln", "kiln.*"]),
    package_data={"kiln": ["c_templates/*"]},
    python_requires=">=3.10",
    # scipy: special functions (erf, gamma, psi, ...) for the reference perform, and
    # cython_blas for the C linker; sympy: the derivative oracle of the gradient tests.
    install_requires=["numpy>=2.0", "scipy>=1.10", "sympy>=1.12", "cython>=3.0"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        "cuda": ["pycuda"],
        "bench": ["pytensor", "jax", "jaxlib"],
    },
)
