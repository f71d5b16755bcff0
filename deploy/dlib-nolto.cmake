# dlib is built from source so that its face networks run on BLAS (deploy/dlib-build-deps.sh).
# pybind11 would link it with LTO: measured on 2 cores, the build took 15.7 minutes with it and
# 13.9 without, and the embedding (30-37 ms a chip) and HOG detection ran as fast either way.
set(CMAKE_INTERPROCEDURAL_OPTIMIZATION OFF)
