export const PACKAGE_NAME = '@ssl/eval';
