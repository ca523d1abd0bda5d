package org.fedqlora.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

/**
 * Starts DJL's PyTorch engine once per JVM, never touching the network.
 *
 * <p>DJL reads {@code ai.djl.offline} and the thread counts when the engine loads, so they are set here
 * before the first {@link Engine#getInstance()}; the native library comes from the
 * {@code pytorch-native-cpu} jar on the classpath and is unpacked into {@code DJL_CACHE_DIR}
 * (default {@code ~/.djl.ai}).
 */
public final class Engines {
    private static volatile Engine engine;

    private Engines() {
    }

    /** The PyTorch engine, loaded offline on first use. */
    public static Engine get() {
        Engine e = engine;
        if (e == null) {
            synchronized (Engines.class) {
                if (engine == null) {
                    System.setProperty("ai.djl.offline", "true");
                    setIfAbsent("ai.djl.pytorch.num_threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
                    setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
                    // The graph executor optimiser re-profiles every new input shape; with batches padded to
                    // the longest sequence that costs more than it gains.
                    setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
                    engine = Engine.getEngine("PyTorch");
                }
                e = engine;
            }
        }
        return e;
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** A new root manager on the engine's default (CPU) device. */
    public static NDManager newManager() {
        return get().newBaseManager();
    }

    /** Seeds torch's global generator (dropout, random init done on the engine). */
    public static void seed(long seed) {
        get().setRandomSeed((int) seed);
    }
}
