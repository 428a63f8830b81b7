export const PACKAGE_NAME = '@ssl/onnx';
