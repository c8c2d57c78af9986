# Picky warnings for our own targets; -Werror with IZA_WERROR (on in CI).
# format-truncation is off: error texts are truncated on purpose by snprintf.
function(iza_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wno-format-truncation -Wvla -Wcast-qual -Wpointer-arith -Wundef)
  if(IZA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
