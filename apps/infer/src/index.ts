export const PACKAGE_NAME = 'ssl-infer';
