# Turn the file IN into a C source OUT defining config_default_yaml[] and its length.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t"
	bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from etc/dotd.yml by resolver/embed.cmake. Do not edit. */\n"
	"#include <stddef.h>\n\n"
	"extern const char config_default_yaml[];\nextern const size_t config_default_yaml_len;\n\n"
	"const char config_default_yaml[] = {\n\t${bytes}0x00\n};\n"
	"const size_t config_default_yaml_len = ${len};\n")
