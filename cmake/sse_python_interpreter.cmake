# Which Python the module is built for: the first python3 on PATH that can import what the
# module needs (numpy) and, with the tests on, what they need (pytest).
#
# FindPython alone takes the first interpreter on PATH, which on a machine with pyenv or a bare
# venv is one without Debian's python3-numpy and python3-pytest: the module would build and then
# fail to import. A user who sets Python_EXECUTABLE keeps it; nothing here overrides a choice.
#
# Sets, in the caller's scope: SSE_PYTHON_CANDIDATE (an interpreter path, or empty) and
# SSE_PYTHON_CANDIDATE_WHY (a sentence for the configure log when it is empty).

# TRUE in `result` when `interpreter` can `import <modules>` (a comma-separated list).
function(sse_python_imports interpreter modules result)
  execute_process(COMMAND "${interpreter}" -c "import ${modules}"
                  RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0)
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
endfunction()

function(sse_choose_python_interpreter needs_pytest)
  set(SSE_PYTHON_CANDIDATE_WHY "" PARENT_SCOPE)
  if(DEFINED Python_EXECUTABLE)  # the user's choice (or a previous configure's)
    set(SSE_PYTHON_CANDIDATE "${Python_EXECUTABLE}" PARENT_SCOPE)
    return()
  endif()
  set(_wanted "numpy")
  if(needs_pytest)
    set(_wanted "numpy, pytest")
  endif()
  file(TO_CMAKE_PATH "$ENV{PATH}" _dirs)
  set(_with_numpy "")
  foreach(_dir IN LISTS _dirs)
    foreach(_name IN ITEMS python3 python)
      set(_candidate "${_dir}/${_name}")
      if(NOT IS_DIRECTORY "${_candidate}" AND EXISTS "${_candidate}")
        sse_python_imports("${_candidate}" "${_wanted}" _has_all)
        if(_has_all)
          set(SSE_PYTHON_CANDIDATE "${_candidate}" PARENT_SCOPE)
          return()
        endif()
        if(NOT _with_numpy)
          sse_python_imports("${_candidate}" "numpy" _has_numpy)
          if(_has_numpy)
            set(_with_numpy "${_candidate}")
          endif()
        endif()
      endif()
    endforeach()
  endforeach()
  # numpy but no pytest: the module builds and the python_tests case says what is missing.
  set(SSE_PYTHON_CANDIDATE "${_with_numpy}" PARENT_SCOPE)
  if(NOT _with_numpy)
    set(SSE_PYTHON_CANDIDATE_WHY
        "no python3 on PATH imports numpy (Debian: python3-numpy python3-dev pybind11-dev)"
        PARENT_SCOPE)
  endif()
endfunction()
