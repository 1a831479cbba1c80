# xbridge_bpf_object(<name> <source.bpf.c>)
#
# Compiles a BPF C source with clang for the BPF target and generates its libbpf
# skeleton with bpftool, both into the build directory (no generated file is kept in
# git). Creates an INTERFACE target <name>_skel whose include directory holds
# <name>.skel.h; link it to use the skeleton. Header dependencies come from clang's
# depfile, so editing any bpf/*.h or include/xbridge/abi.h rebuilds the object.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

# The BPF target has no asm/ headers of its own: use the host architecture's
# multiarch directory (Debian's /usr/include/x86_64-linux-gnu), as libbpf-bootstrap does.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
  OUTPUT_VARIABLE XB_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT XB_MULTIARCH)
  execute_process(COMMAND gcc -print-multiarch
    OUTPUT_VARIABLE XB_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()

# -simplifycfg-sink-common=false: clang would sink map lookups on two different maps
# into one call on a selected map pointer, which the verifier can neither inline (an
# array lookup becomes a helper call) nor resolve to a direct call.
set(XB_BPF_CFLAGS -g -O2 -target bpf -mcpu=v3 -mllvm -simplifycfg-sink-common=false
  -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)

function(xbridge_bpf_object name source)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(skel ${skel_dir}/${name}.skel.h)
  get_filename_component(src ${source} ABSOLUTE)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} ${XB_BPF_CFLAGS}
            -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -I/usr/include/${XB_MULTIARCH}
            -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${obj}.d
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${skel_dir})
  set(${name}_BPF_OBJECT ${obj} PARENT_SCOPE)
endfunction()
