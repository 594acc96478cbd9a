/**
 * The JNI binding of native/include/lady.h: the only JavaCPP-annotated class of Lady. Called only by {@link
 * lady.kernels.Kernels}.
 */
package lady.kernels.bridge;
