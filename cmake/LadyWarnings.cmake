# Warnings for our C++ only (never leaked to nvcc through generator expressions).
function(lady_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -O3>)
endfunction()
