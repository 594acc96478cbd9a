package lady.model;

import java.util.List;

/** State-dict names of torchvision 0.14 models, generated with Debian's python3-torchvision:
 * {@code list(torchvision.models.<arch>().state_dict())}. */
final class TorchvisionNames {
    private TorchvisionNames() {}

    static final List<String> VGG16 = List.of("""
            features.0.weight features.0.bias features.2.weight features.2.bias features.5.weight
            features.5.bias features.7.weight features.7.bias features.10.weight features.10.bias
            features.12.weight features.12.bias features.14.weight features.14.bias features.17.weight
            features.17.bias features.19.weight features.19.bias features.21.weight features.21.bias
            features.24.weight features.24.bias features.26.weight features.26.bias features.28.weight
            features.28.bias classifier.0.weight classifier.0.bias classifier.3.weight classifier.3.bias
            classifier.6.weight classifier.6.bias
            """.trim().split("\\s+"));

    static final List<String> VGG16_BN = List.of("""
            features.0.weight features.0.bias features.1.weight features.1.bias features.1.running_mean
            features.1.running_var features.1.num_batches_tracked features.3.weight features.3.bias
            features.4.weight features.4.bias features.4.running_mean features.4.running_var
            features.4.num_batches_tracked features.7.weight features.7.bias features.8.weight
            features.8.bias features.8.running_mean features.8.running_var features.8.num_batches_tracked
            features.10.weight features.10.bias features.11.weight features.11.bias features.11.running_mean
            features.11.running_var features.11.num_batches_tracked features.14.weight features.14.bias
            features.15.weight features.15.bias features.15.running_mean features.15.running_var
            features.15.num_batches_tracked features.17.weight features.17.bias features.18.weight
            features.18.bias features.18.running_mean features.18.running_var features.18.num_batches_tracked
            features.20.weight features.20.bias features.21.weight features.21.bias features.21.running_mean
            features.21.running_var features.21.num_batches_tracked features.24.weight features.24.bias
            features.25.weight features.25.bias features.25.running_mean features.25.running_var
            features.25.num_batches_tracked features.27.weight features.27.bias features.28.weight
            features.28.bias features.28.running_mean features.28.running_var features.28.num_batches_tracked
            features.30.weight features.30.bias features.31.weight features.31.bias features.31.running_mean
            features.31.running_var features.31.num_batches_tracked features.34.weight features.34.bias
            features.35.weight features.35.bias features.35.running_mean features.35.running_var
            features.35.num_batches_tracked features.37.weight features.37.bias features.38.weight
            features.38.bias features.38.running_mean features.38.running_var features.38.num_batches_tracked
            features.40.weight features.40.bias features.41.weight features.41.bias features.41.running_mean
            features.41.running_var features.41.num_batches_tracked classifier.0.weight classifier.0.bias
            classifier.3.weight classifier.3.bias classifier.6.weight classifier.6.bias
            """.trim().split("\\s+"));

    static final List<String> RESNET18 = List.of("""
            conv1.weight bn1.weight bn1.bias bn1.running_mean bn1.running_var bn1.num_batches_tracked
            layer1.0.conv1.weight layer1.0.bn1.weight layer1.0.bn1.bias layer1.0.bn1.running_mean
            layer1.0.bn1.running_var layer1.0.bn1.num_batches_tracked layer1.0.conv2.weight
            layer1.0.bn2.weight layer1.0.bn2.bias layer1.0.bn2.running_mean layer1.0.bn2.running_var
            layer1.0.bn2.num_batches_tracked layer1.1.conv1.weight layer1.1.bn1.weight layer1.1.bn1.bias
            layer1.1.bn1.running_mean layer1.1.bn1.running_var layer1.1.bn1.num_batches_tracked
            layer1.1.conv2.weight layer1.1.bn2.weight layer1.1.bn2.bias layer1.1.bn2.running_mean
            layer1.1.bn2.running_var layer1.1.bn2.num_batches_tracked layer2.0.conv1.weight
            layer2.0.bn1.weight layer2.0.bn1.bias layer2.0.bn1.running_mean layer2.0.bn1.running_var
            layer2.0.bn1.num_batches_tracked layer2.0.conv2.weight layer2.0.bn2.weight layer2.0.bn2.bias
            layer2.0.bn2.running_mean layer2.0.bn2.running_var layer2.0.bn2.num_batches_tracked
            layer2.0.downsample.0.weight layer2.0.downsample.1.weight layer2.0.downsample.1.bias
            layer2.0.downsample.1.running_mean layer2.0.downsample.1.running_var
            layer2.0.downsample.1.num_batches_tracked layer2.1.conv1.weight layer2.1.bn1.weight
            layer2.1.bn1.bias layer2.1.bn1.running_mean layer2.1.bn1.running_var
            layer2.1.bn1.num_batches_tracked layer2.1.conv2.weight layer2.1.bn2.weight layer2.1.bn2.bias
            layer2.1.bn2.running_mean layer2.1.bn2.running_var layer2.1.bn2.num_batches_tracked
            layer3.0.conv1.weight layer3.0.bn1.weight layer3.0.bn1.bias layer3.0.bn1.running_mean
            layer3.0.bn1.running_var layer3.0.bn1.num_batches_tracked layer3.0.conv2.weight
            layer3.0.bn2.weight layer3.0.bn2.bias layer3.0.bn2.running_mean layer3.0.bn2.running_var
            layer3.0.bn2.num_batches_tracked layer3.0.downsample.0.weight layer3.0.downsample.1.weight
            layer3.0.downsample.1.bias layer3.0.downsample.1.running_mean layer3.0.downsample.1.running_var
            layer3.0.downsample.1.num_batches_tracked layer3.1.conv1.weight layer3.1.bn1.weight
            layer3.1.bn1.bias layer3.1.bn1.running_mean layer3.1.bn1.running_var
            layer3.1.bn1.num_batches_tracked layer3.1.conv2.weight layer3.1.bn2.weight layer3.1.bn2.bias
            layer3.1.bn2.running_mean layer3.1.bn2.running_var layer3.1.bn2.num_batches_tracked
            layer4.0.conv1.weight layer4.0.bn1.weight layer4.0.bn1.bias layer4.0.bn1.running_mean
            layer4.0.bn1.running_var layer4.0.bn1.num_batches_tracked layer4.0.conv2.weight
            layer4.0.bn2.weight layer4.0.bn2.bias layer4.0.bn2.running_mean layer4.0.bn2.running_var
            layer4.0.bn2.num_batches_tracked layer4.0.downsample.0.weight layer4.0.downsample.1.weight
            layer4.0.downsample.1.bias layer4.0.downsample.1.running_mean layer4.0.downsample.1.running_var
            layer4.0.downsample.1.num_batches_tracked layer4.1.conv1.weight layer4.1.bn1.weight
            layer4.1.bn1.bias layer4.1.bn1.running_mean layer4.1.bn1.running_var
            layer4.1.bn1.num_batches_tracked layer4.1.conv2.weight layer4.1.bn2.weight layer4.1.bn2.bias
            layer4.1.bn2.running_mean layer4.1.bn2.running_var layer4.1.bn2.num_batches_tracked fc.weight
            fc.bias
            """.trim().split("\\s+"));

}
