# The headers a user of the installed library includes, and every project header they include in turn (found by
# following their #include "..." lines). Only these are installed. A public header that reaches a private one (the
# ISA kernels, the op internals, stb) is a configure error naming the chain, so the audit cannot silently regress.

# The entry points README.md documents ("Using the library in your own program").
set(TG_PUBLIC_HEADER_ROOTS autograd/autograd.h layers/layers.h optim/optim.h data/data.h train/fit.h train/evaluate.h
    train/predict.h)
list(APPEND TG_PUBLIC_HEADER_ROOTS interop/onnx_export.h)  # without ONNX's or protobuf's headers
# Headers that stay inside the library.
set(TG_PRIVATE_HEADER_REGEX "^autograd/(kernels|ops)/|^autograd/parallel\\.h$|stb")

# tg_public_headers(OUT var): the closure of TG_PUBLIC_HEADER_ROOTS, as paths relative to the source tree.
function(tg_public_headers out)
  set(todo ${TG_PUBLIC_HEADER_ROOTS})
  set(done "")
  foreach(root ${TG_PUBLIC_HEADER_ROOTS})
    set(tg_reached_from_${root} "(public entry point)")
  endforeach()
  while(todo)
    list(POP_FRONT todo header)
    if(header IN_LIST done)
      continue()
    endif()
    if(header MATCHES "${TG_PRIVATE_HEADER_REGEX}")
      message(FATAL_ERROR "public header ${tg_reached_from_${header}} includes the private header ${header}: "
                          "users of the installed library would need it. Move what they need out of it.")
    endif()
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "${tg_reached_from_${header}} includes \"${header}\", which is not in the source tree")
    endif()
    list(APPEND done ${header})
    file(STRINGS ${PROJECT_SOURCE_DIR}/${header} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line ${lines})
      if(line MATCHES "include[ \t]*\"([^\"]+)\"")
        set(included ${CMAKE_MATCH_1})
        if(NOT DEFINED tg_reached_from_${included})
          set(tg_reached_from_${included} ${header})
        endif()
        list(APPEND todo ${included})
      elseif(line MATCHES "include[ \t]*<([^>]*stb[^>]*)>")
        message(FATAL_ERROR "public header ${header} includes <${CMAKE_MATCH_1}>: stb stays inside the library")
      endif()
    endforeach()
  endwhile()
  list(SORT done)
  set(${out} ${done} PARENT_SCOPE)
endfunction()
