{
  "variables": {
    "has_onednn": "<!(node scripts/has-onednn.mjs)"
  },
  "targets": [
    {
      "target_name": "ssl_native",
      "sources": [
        "native/addon.cc",
        "native/pool.cc",
        "native/gemm.cc",
        "native/kernels/BatchMatMul.cc",
        "native/kernels/Binary.cc",
        "native/kernels/Conv2D.cc",
        "native/kernels/Reduce.cc",
        "native/kernels/Slice.cc",
        "native/kernels/Softmax.cc",
        "native/kernels/Transpose.cc",
        "native/kernels/Unary.cc",
        "native/kernels/LayerNorm.cc",
        "native/kernels/Gelu.cc",
        "native/kernels/AdamW.cc",
        "native/kernels/BatchNorm.cc",
        "native/kernels/Pool.cc",
        "native/kernels/Tile.cc",
        "native/kernels/Attention.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I openblas 2>/dev/null | sed 's/-I//g' || echo /usr/include/x86_64-linux-gnu)"
      ],
      "libraries": [
        "<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)",
        "-lpthread"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno"],
      "conditions": [
        ["target_arch=='x64'", { "cflags_cc+": ["-march=native"] }],
        ["has_onednn==1", { "defines": ["SSL_HAVE_ONEDNN"], "cflags_cc+": ["-fopenmp"], "libraries": ["-ldnnl", "-fopenmp"] }]
      ],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
    }
  ]
}
