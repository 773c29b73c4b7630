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
        return _driver_ext()
    ext = Extension("kiln.linkers.c._runtime", ["kiln/linkers/c/_runtime.pyx"],
                    include_dirs=[numpy.get_include()], extra_compile_args=["-O2"],
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                    optional=True)   # a failed build leaves kiln on the ctypes runtime
    # generated C goes to build/ (ignored), not next to the .pyx
    return cythonize([ext], compiler_directives={"language_level": 3}, build_dir="build",
                     quiet=True) + _driver_ext()


def _openmp_works(cc: str) -> bool:
    """Whether the C compiler compiles and links an OpenMP program."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "omp.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
        try:
            return subprocess.run([cc, "-fopenmp", src, "-o", os.path.join(d, "omp")],
                                  capture_output=True).returncode == 0
        except OSError:
            return False


def _driver_ext():
    """kiln's library: the C linker's code that does no per-graph specialization, compiled once
    here instead of into every generated module (see kiln/linkers/c/driver.py): the elementwise
    driver (kiln/c_templates/elemwise.c) and the common reduction bodies (reduce.c, instantiated
    by the preprocessor for each combination driver_lib.c lists), as a plain shared library
    kiln/linkers/c/_driver*.so.  Not a Python module (loaded with ctypes).  The modules' flags
    (vectorized, no FMA contraction: the reductions' summation order is written out), OpenMP
    where the compiler has it.  Costs ~3 s of gcc 12, once per install.  Optional: without it
    the runtime compiles each function once into the module cache when a module first needs it."""
    import os

    from setuptools import Extension

    cc = os.environ.get("CC", "cc")
    omp = ["-fopenmp"] if _openmp_works(cc) else []
    return [Extension("kiln.linkers.c._driver", ["kiln/c_templates/driver_lib.c"],
                      include_dirs=["kiln/c_templates"],
                      # the included files: an edit of any of them rebuilds the library
                      depends=[f"kiln/c_templates/{name}" for name in (
                          "kiln_prelude.h", "elemwise.c", "reduce.h", "reduce.c", "index_decl.c", "index_lib.c",
                          "shape_decl.c", "shape_lib.c", "matvec_lib.c")],
                      extra_compile_args=["-O2", "-ftree-vectorize", "-fvect-cost-model=cheap", "-std=gnu11",
                                          "-fwrapv", "-ffp-contract=off", "-fno-math-errno", *omp,
                                          *_native_flags()],
                      extra_link_args=omp, optional=True)]


def _native_flags() -> list:
    """-march=native, tagged with this CPU's instruction-set flags: the driver's streaming
    stores and copies are 1.1-1.2x faster with the machine's widest vectors, and the runtime
    uses the library only on a CPU with the same flags (else it compiles the driver into the
    module cache).  KILN_PORTABLE_BUILD=1 builds for the baseline instead.  The tag is
    kiln.linkers.cache.key.cpu_features() hashed (kiln/linkers/c/driver.py checks it)."""
    import hashlib
    import os

    if os.environ.get("KILN_PORTABLE_BUILD"):
        return []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):
                    feats = " ".join(sorted(set(line.split(":", 1)[1].split())))
                    break
            else:
                return []
    except OSError:
        return []
    tag = hashlib.sha256(feats.encode()).hexdigest()[:16]
    return ["-march=native", f'-DKILN_DRIVER_CPU="{tag}"']


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
