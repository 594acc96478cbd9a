# CUDA detection for Lady.
#   LADY_CUDA=AUTO  compile native/cuda/*.cu when nvcc is found, the stub otherwise (default)
#   LADY_CUDA=ON    require nvcc (fails the build without it): the gpu profile
#   LADY_CUDA=OFF   always the stub
#   LADY_CUDA_ARCHS architectures, default "80;90" (A100, H100); set explicitly because
#                   CMake's auto-detection needs a GPU on the build machine.
# The CUDA runtime is linked statically: the library has no libcudart/libcuda dependency, loads
# on machines without a driver, and reports "no usable GPU" at run time there.
set(LADY_CUDA "AUTO" CACHE STRING "CUDA kernels: AUTO, ON or OFF")
set_property(CACHE LADY_CUDA PROPERTY STRINGS AUTO ON OFF)
set(LADY_CUDA_ARCHS "80;90" CACHE STRING "CUDA architectures to compile for")

# Decided at include time, at directory scope (enable_language cannot run inside a function).
set(LADY_USE_CUDA OFF)
if(LADY_CUDA STREQUAL "OFF")
  message(STATUS "Lady: CUDA turned off (LADY_CUDA=OFF): compiling the stub")
else()
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(LADY_USE_CUDA ON)
  elseif(LADY_CUDA STREQUAL "ON")
    message(FATAL_ERROR "Lady: LADY_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "Lady: no nvcc found: compiling the stub (\"built without CUDA\")")
  endif()
endif()
if(LADY_USE_CUDA)
  set(CMAKE_CUDA_ARCHITECTURES "${LADY_CUDA_ARCHS}")
  enable_language(CUDA)
  message(STATUS "Lady: CUDA kernels ON for architectures ${LADY_CUDA_ARCHS} (${CMAKE_CUDA_COMPILER})")
endif()

# Adds native/cuda/*.cu to `target` when CUDA is on, the stub otherwise.
function(lady_add_cuda_sources target cuda_dir)
  if(LADY_USE_CUDA)
    file(GLOB cuda_sources CONFIGURE_DEPENDS ${cuda_dir}/*.cu)
    target_sources(${target} PRIVATE ${cuda_sources})
    target_include_directories(${target} PRIVATE ${cuda_dir})
    set_target_properties(${target} PROPERTIES
      CUDA_ARCHITECTURES "${LADY_CUDA_ARCHS}"
      CUDA_RUNTIME_LIBRARY Static
      CUDA_STANDARD 17)
    string(REPLACE ";" "," archs_text "${LADY_CUDA_ARCHS}")
    target_compile_definitions(${target} PRIVATE LADY_CUDA_ARCHS="${archs_text}")
    # Resource report (registers, spills) for review, in the build log: nvcc -Xptxas -v
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xptxas=-v>)
  else()
    target_sources(${target} PRIVATE ${cuda_dir}/stub.cpp)
  endif()
endfunction()
